"""unisono: the channel-neutral core of the omnichannel assistant."""
