"""Export: trajectories (JSON/CSV in the `trace` format), frames to MP4/GIF/PNG. Qt-free."""
