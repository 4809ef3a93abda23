"""The runner: compile, train, evaluate, predict, and write every artifact of a run."""
