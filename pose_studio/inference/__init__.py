"""pose_studio.inference."""
