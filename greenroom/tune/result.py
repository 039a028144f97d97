"""Names of the fields of a trial's result and of its files, at Ray's ``ray.tune.result`` path.

Tune fills the auto-filled fields into every result; a trainable may set the
optional ones (``done``, ``should_checkpoint``).
"""

from __future__ import annotations

# (Optional/Auto-filled) training is terminated. Filled only if not provided.
DONE = "done"
# (Optional) a Trainable class saves a checkpoint after this result.
SHOULD_CHECKPOINT = "should_checkpoint"
# (Auto-filled) the machine and process the trial runs in.
HOSTNAME = "hostname"
NODE_IP = "node_ip"
PID = "pid"
# (Auto-filled) the trial's id and tag.
TRIAL_ID = "trial_id"
EXPERIMENT_TAG = "experiment_tag"
# (Optional) the metric name used when a scheduler or searcher is given only a mode.
DEFAULT_METRIC = "_metric"
# (Optional) common metric names.
EPISODE_REWARD_MEAN = "episode_reward_mean"
MEAN_LOSS = "mean_loss"
MEAN_ACCURACY = "mean_accuracy"
EPISODES_THIS_ITER = "episodes_this_iter"
EPISODES_TOTAL = "episodes_total"
TIMESTEPS_THIS_ITER = "timesteps_this_iter"
TIMESTEPS_TOTAL = "timesteps_total"
# (Auto-filled) time and iteration counters.
TIME_THIS_ITER_S = "time_this_iter_s"
TIME_TOTAL_S = "time_total_s"
TIMESTAMP = "timestamp"
TRAINING_ITERATION = "training_iteration"

DEFAULT_EXPERIMENT_INFO_KEYS = ("trainable_name", EXPERIMENT_TAG, TRIAL_ID)
DEFAULT_RESULT_KEYS = (TRAINING_ITERATION, TIME_TOTAL_S, MEAN_ACCURACY, MEAN_LOSS)
DEBUG_METRICS = (TRIAL_ID, "experiment_id", "date", TIMESTAMP, PID, HOSTNAME, NODE_IP, "config")
AUTO_RESULT_KEYS = (
    TRAINING_ITERATION, TIME_TOTAL_S, EPISODES_TOTAL, TIMESTEPS_TOTAL, NODE_IP, HOSTNAME, PID,
    TIME_THIS_ITER_S, TIMESTAMP, "date", "time_since_restore", "timesteps_since_restore",
    "iterations_since_restore", "config",
)  # fmt: skip

# A trial's files, in its directory.
EXPR_PARAM_FILE = "params.json"
EXPR_PARAM_PICKLE_FILE = "params.pkl"
EXPR_PROGRESS_FILE = "progress.csv"
EXPR_RESULT_FILE = "result.json"
EXPR_ERROR_FILE = "error.txt"
EXPR_ERROR_PICKLE_FILE = "error.pkl"

DEFAULT_EXPERIMENT_NAME = "default"
CONFIG_PREFIX = "config"
