"""Sections of the one Settings object; bot.config composes them. Each section is plain pydantic."""
