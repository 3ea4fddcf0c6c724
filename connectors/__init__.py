"""One module per channel: parse the provider's payloads in, render and send replies out."""
