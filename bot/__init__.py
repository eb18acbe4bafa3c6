"""firstmate: a Slack first mate for Kubernetes teams."""

__version__ = "0.1.0"
