"""pose_studio.store."""
