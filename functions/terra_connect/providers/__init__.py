"""The providers enabled for the Terra account, for an app's own picker and the custom-UI route's check."""
