"""The conversation engine: flows that turn messages into answers, questions and tickets.

from bot.dialogue.engine import Dialogue, Turn, BotReply
turn = dialogue.respond(state, inbound_message, conversation_id)
"""
