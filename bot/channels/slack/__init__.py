"""The Slack channel (slack-bolt). Only translation lives here: no flow logic and no wording."""

from bot.channels.slack.app import SlackChannel
from bot.channels.slack.config import SlackConfig, slack_config

__all__ = ["SlackChannel", "SlackConfig", "slack_config"]
