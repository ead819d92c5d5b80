"""pose_studio.synth."""
