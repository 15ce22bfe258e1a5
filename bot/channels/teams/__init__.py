"""The Microsoft Teams channel (Microsoft 365 Agents SDK). Only translation lives here: no flow logic and no wording."""

from bot.channels.teams.app import TeamsChannel
from bot.channels.teams.config import TeamsConfig, teams_config

__all__ = ["TeamsChannel", "TeamsConfig", "teams_config"]
