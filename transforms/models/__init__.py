"""Packaged models: the line classifier (`line_model.json`, with its stop lists) and the topic head (`topic_lr.npz`); rebuilt by `training/`."""
