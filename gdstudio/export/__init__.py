"""Export, Qt-free: trajectories in the `trace` format (:mod:`~gdstudio.export.trace_format`, the
`gdstudio trace` command in :mod:`~gdstudio.export.trace_command`), frames to MP4/GIF/PNG (the
pipeline :mod:`~gdstudio.export.frames`, :mod:`~gdstudio.export.writers`, which steps become frames
and their captions :mod:`~gdstudio.export.schedule`) and the Qt-free half of `gdstudio render`
(:mod:`~gdstudio.export.render_options`; the drawing half is :mod:`gdstudio.ui.render_command`)."""
