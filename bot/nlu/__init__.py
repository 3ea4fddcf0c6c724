"""Custom Rasa NLU graph components for unisono (referenced from config.yml by module path)."""
