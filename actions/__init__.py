"""Business logic of the assistant, run by the Rasa action server (rasa_sdk)."""
