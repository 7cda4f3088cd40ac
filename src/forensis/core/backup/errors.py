class BackupError(Exception):
    """A backup or restore that cannot go on; the message is one plain sentence (or two) for the operator."""
