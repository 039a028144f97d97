"""The trial runner's pure core: its state machine, the instructions it gives, its rules.

``runner_state.RunnerState`` decides; ``greenroom.tune.controller.TuneController``
(the shell) carries its instructions out with actors, files, callbacks and the
reporter. Nothing in this package does I/O.
"""
