"""The conversation flows, one module each; each reads top to bottom as the person lives it.

A flow has `start(ctx)` and `answer(ctx)`: `answer` handles the reply to the question named by
`ctx.conv.step`. It returns the bot's replies, or None when the message is plainly not an answer
(only yes/no questions allow that), so the router handles it as a new message.
"""
