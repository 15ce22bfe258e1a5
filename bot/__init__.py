"""online-safety-bot: helps UK school staff respond to fake and harmful social-media accounts."""
