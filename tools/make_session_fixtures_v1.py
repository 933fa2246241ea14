"""Save sessions with the gdstudio of commit 848c8e8 (session format version 1) as fixtures."""

# Run once at commit 848c8e8 (format version 1); kept to document how tests/data/sessions/v1 was made.
import json
from pathlib import Path

from gdstudio.engine.runs import RunConfig
from gdstudio.model.persistence import load_session, save_session
from gdstudio.model.session import ProblemSettings, Session

out = Path("tests/data/sessions/v1")
# 1. a data-problem preset as shipped
s = Session()
load_session(s, "resources/presets/sigmoid-race-six-point.json")
s.forward(40)
save_session(s, out / "sigmoid-race.json")
# 2. book bowl with edits: hidden run, custom colour, selection, options, playback
s = Session()
load_session(s, "resources/presets/book-bowl.json")
ids = [e.id for e in s.runs]
s.set_visible(ids[0], False)
s.set_color(ids[-1], "#123456")
s.select(ids[1])
s.set_options(show_gradient=True, show_velocity=True, log_loss=False, grey_surface=True, small_multiples=True)
s.set_problem(log_scale=True, resolution=128)
s.set_speed(steps_per_tick=3, ticks_per_second=30)
s.set_max_steps(500)
s.forward(25)
save_session(s, out / "book-bowl-edited.json")
# 3. typed function with mini-batch-free runs, AdamW + NAG with overrides
s = Session()
s.set_problem(ProblemSettings(name="custom", expr="sin(x)*cos(y) + 0.1*(x**2+y**2)"))
s.add_run(
    RunConfig(optimizer="adamw", start=(1.0, -1.5), hyperparameters={"lr": 0.05, "betas": (0.8, 0.99), "amsgrad": True})
)
s.add_run(RunConfig(optimizer="nag", start=(-2.0, 1.0), hyperparameters={"lr": 0.02, "momentum": 0.8}))
s.forward(60)
save_session(s, out / "expression-adamw-nag.json")
# 4. mini-batch SGD on a line fit with noise and seed
s = Session()
load_session(s, "resources/presets/line-gd-vs-sgd.json")
s.forward(30)
save_session(s, out / "line-minibatch.json")
for p in sorted(out.iterdir()):
    print(p, p.stat().st_size)

# What each fixture must load to (today's code): the runs' points at the saved position.

expected = {}
for p in sorted(out.glob("*.json")):
    if p.name == "expected.json":
        continue
    s = Session()
    load_session(s, p)
    expected[p.name] = {
        "problem": s.problem_settings.name,
        "position": s.position,
        "selected": None if s.selected is None else [e.id for e in s.runs].index(s.selected_id),
        "runs": [
            {
                "optimizer": e.config.optimizer,
                "color": e.color,
                "visible": e.visible,
                "hyperparameters": {
                    k: list(v) if isinstance(v, tuple) else v for k, v in e.config.hyperparameters.items()
                },
                "point": [float(x) for x in e.run.history.points[s.position]],
            }
            for e in s.runs
        ],
    }
(out / "expected.json").write_text(json.dumps(expected, indent=1))
