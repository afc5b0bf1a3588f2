"""REPORT.md: the lecture's printed numbers beside ours, the targets, pictures and timings.

`render(results, seed, quick)` turns what `cadl_graph.lecture.job.run_lecture` measured into
Markdown; `training_curve` draws one model's per-epoch figure beside the lecture's.
"""

import datetime
from pathlib import Path

from cadl_graph.compat import tf
from cadl_graph.graphs import registry
from cadl_graph.training import kinds
from cadl_graph.training.kinds import fmt
from cadl_graph.viz import figures

QUICK_IMAGES, QUICK_EPOCHS = 3000, 2
QUICK_NOTE = f", QUICK: {QUICK_EPOCHS} epochs on {QUICK_IMAGES} images, numbers not comparable"

# What the lecture printed after each epoch (Out of In[20], In[30], In[47], In[66]) and at the
# end. Its "test" accuracies came from a test split that overlapped the training data.
LECTURE_NUMBERS = {
    "fc_autoencoder": dict(metric="last-batch cost",
                           epochs=[0.0441059, 0.0370064, 0.0365971, 0.0326115, 0.0331688]),
    "conv_autoencoder": dict(metric="last-batch cost",
                             epochs=[0.0262561, 0.0264586, 0.0247447, 0.0236072, 0.0234347]),
    "linear_classifier": dict(metric="valid accuracy", test=0.922143,
                              epochs=[0.891, 0.905571, 0.907714, 0.915571, 0.913286]),
    "conv_classifier": dict(metric="valid accuracy", test=0.997429,
                            epochs=[0.946571, 0.963714, 0.966714, 0.969714, 0.973571,
                                    0.972143, 0.971714, 0.975, 0.969429, 0.976857]),
}
# Quality bars of the project, compared in the report, never asserted in tests: (what, the
# result it reads, comparison, bar). The conv autoencoder is judged on held-out data: its
# lecture figure, the cost of one batch of 100, moves by +-0.0005 between epochs.
TARGETS = {
    "fc_autoencoder": ("last-batch cost after the last epoch", "last_batch_cost", "<=", 0.035),
    "conv_autoencoder": ("held-out test cost", "test", "<=", 0.025),
    "linear_classifier": ("held-out test accuracy", "test", ">=", 0.915),
    "conv_classifier": ("held-out test accuracy", "test", ">=", 0.975),
}
BATCH_NORM_NOTE = {
    "course": "the course's batch norm (its moving-average update sits outside the `tf.cond` "
              "and also runs at inference); every score and picture comes from the repaired "
              "copy (`batch_norm_update=in_cond`, same variables), so scoring moved nothing",
    "in_cond": "the repaired batch norm (`batch_norm_update=in_cond`: the update runs only "
               "while training)",
}



def _time_table(results):
    """Where the run's time went: each model's training loop and the rest of its run
    (building the graphs, scoring, pictures), and the other cells."""
    total = results.get("seconds") or 0.0
    rows = []
    for name, result in results["models"].items():
        loop = result.get("train_seconds") or 0.0
        rows.append(f"| {name} | {result['seconds']:.0f} | {loop:.0f} | "
                    f"{result['seconds'] - loop:.0f} |")
    rows += [f"| {what} | {seconds:.0f} | | |"
             for what, seconds in results.get("times", {}).items()]
    return ["## Where the time went", "",
            f"{total:.0f} s in all (a resumed run trains nothing: its loop times are 0).", "",
            "| part | seconds | training loop | graphs, scoring, pictures |",
            "| --- | --- | --- | --- |", *rows, ""]


def training_curve(name, history, out_dir):
    """Our per-epoch figure beside the lecture's printed numbers, as `curve.png`."""
    kind = kinds.of(name)
    series = dict(kind.curves(history))
    lecture = LECTURE_NUMBERS.get(name)
    if lecture:
        series[f"lecture: {lecture['metric']}"] = lecture["epochs"]
    return figures.save_curves(series, Path(out_dir) / "curve.png",
                               f"{name} ({registry.get(name).cells})", kind.metric_name)


def _model_section(name, result):
    """One model's section: per-epoch figures beside the lecture's, the held-out score, the
    target, the curve and the pictures."""
    lecture = LECTURE_NUMBERS.get(name, {})
    lines = [f"## {name} ({registry.get(name).cells})", "",
             "| epoch | lecture | ours | images/s |", "| --- | --- | --- | --- |"]
    theirs = lecture.get("epochs", [])
    for record in result["epochs"]:
        lecture_value = fmt(theirs[record["epoch"]]) if record["epoch"] < len(theirs) else "-"
        lines.append(f"| {record['epoch']} | {lecture_value} | "
                     f"{kinds.of(name).report_cell(record)} | {record['images_per_s']:.0f} |")
    held_out = f"Held-out {result['test_metric'].replace('_', ' ')}: **{fmt(result['test'])}**"
    lines += ["", f"{held_out} (lecture's overlapping test split: {fmt(lecture['test'])})."
              if "test" in lecture else f"{held_out}.", ""]
    update = result.get("hparams", {}).get("batch_norm_update")
    if update:
        lines += [f"Trained graph: {BATCH_NORM_NOTE[update]}.", ""]
    if name in TARGETS:
        what, key, op, bar = TARGETS[name]
        value = result["test"] if key == "test" else (
            result["epochs"][-1][key] if result["epochs"] else None)
        met = value is not None and (value <= bar if op == "<=" else value >= bar)
        lines += [f"Target: {what} {op} {bar}: {fmt(value)}, {'met' if met else 'NOT met'}.",
                  ""]
    if result.get("curve"):
        curve = Path(result["curve"]).relative_to(Path(result["curve"]).parents[2])
        lines += [f"![{name}: per epoch, ours beside the lecture's]({curve})", ""]
    if result["pictures"]:
        links = ", ".join(f"[{key}]({Path(path).relative_to(Path(path).parents[2])})"
                          for key, path in result["pictures"].items())
        lines += [f"Pictures: {links}.", ""]
    return lines


def render(results, seed, quick):
    """REPORT.md: the lecture's printed numbers beside ours, targets, pictures."""
    lines = [
        "# CADL Session 3, rerun",
        "",
        f"Generated {datetime.datetime.now().isoformat(timespec='seconds')} by "
        f"`cadl-graph lecture` (seed {seed}{QUICK_NOTE if quick else ''}), "
        f"TensorFlow {tf.__version__}, {results.get('seconds', 0):.0f} s.",
        "",
        "The classifiers and VAEs train on MNIST split [0.8, 0.1, 0.1] (56000 / 7000 / 7000, "
        "disjoint), the tied autoencoders on [0.9, 0.0, 0.1] (the lecture trained them on all "
        "70000 images and validated nothing). The lecture's printed *test* accuracies came "
        "from a test split that overlapped the training data: compare our test numbers with "
        "its *valid* ones.",
        "",
        "## Data (In[2]-[8])",
        "",
        f"Shape: lecture `(70000, 784)`, ours `{results['data']['shape']}`. Pictures: "
        "[montage](montage.png), [mean](mean.png), [std](std.png), "
        "[first image](first_image.png).",
        "",
    ]
    for name, result in results["models"].items():
        lines += _model_section(name, result)
    lines += ["## Inspection (In[48])", "", results["out48"] + ".", ""]
    if "restored" in results:
        prefix, accuracy = results["restored"]
        trained = results["models"]["conv_classifier"]["test"]
        lines += ["## Checkpoint (In[70]-[71])", "",
                  f"Restored `{Path(prefix).name}` into a freshly built conv_classifier graph: "
                  f"test accuracy {fmt(accuracy)} (the training session scored "
                  f"{fmt(trained)}).", ""]
    lines += _time_table(results)
    if "protobuf" in results:
        frozen = results["protobuf"]
        cpp = ("skipped" if frozen["cpp"] is None else f"**{fmt(frozen['cpp'])}**")
        lines += ["## Protobuf export (Saving/Loading Models)", "",
                  f"`export/{Path(frozen['path']).name}`, re-imported in Python: test accuracy "
                  f"**{fmt(frozen['python'])}**; C++ `{frozen['loader']}` on the same "
                  f"{frozen['images']} held-out images: {cpp}.", ""]
        if "saved_model" in frozen:
            saved = frozen["saved_model"]
            cpp = "skipped" if saved["cpp"] is None else fmt(saved["cpp"])
            lines += [f"The same graph as a SavedModel (`export/{Path(saved['path']).name}/`, "
                      f"tag `serve`, signature `serving_default` X -> Y): Python "
                      f"{fmt(saved['python'])}, C++ {cpp}.", ""]
    return "\n".join(lines)
