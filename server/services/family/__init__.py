"""The family's side: password-free access, the family page, the home program."""
