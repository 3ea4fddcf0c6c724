"""Custom Rasa NLU graph components for unisono (referenced from config.yml by module path).

Importing this package, as Rasa does to find those components, also makes Rasa's token
fingerprints cheaper (see `fingerprints`): that cost is paid in every training run.
"""
from bot.nlu import fingerprints

fingerprints.install()
