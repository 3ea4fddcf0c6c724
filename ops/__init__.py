"""Operating unisono: the command line, the process runner, training, migrations, seeding, privacy.

The room above the others: it may import the core (`bot`), the business (`actions`) and the
channels (`connectors`); none of them imports it, except `bot/__main__.py`, the old CLI name.
"""
