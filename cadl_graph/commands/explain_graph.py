"""Explains a registry graph: every op, grouped by the code that made it.

Prints the groups in the order they first appear: placeholders; each forward layer with its
variables (and their Assign/read/initializer ops) and compute ops; the cost and the accuracy;
the gradients, one group per forward layer they differentiate; Adam's slots, accumulators and
update ops; init. A batch norm's group says what tf.cond added and where its moving-average
update lives. --frozen explains the model's frozen export instead: what freezing kept, turned
into constants, removed and added. --checkpoint=<run folder> explains the model a training run
holds, with the hyperparameters it was trained with (and, with --frozen, its trained weights
frozen). --lecture_cells prints the page that walks the lecture's
Out[48] graph cell by cell (golden/lecture/out48_cells.md is a copy of it).

--picture=FILE.svg (or .png) draws the graph as its groups instead: the forward pass down the
left, each layer's gradients up the right, tied weights as red arrows, a batch norm's cond and
where its moving-average update lives; with --frozen, what freezing kept, made constant and
removed. --pages=FOLDER writes a page with pictures for every registry graph (docs/graph-pages
holds them).

Examples:
  cadl-graph explain_graph --model=conv_autoencoder
  cadl-graph explain_graph --model=vae --variant=bn_in_cond
  cadl-graph explain_graph --model=conv_classifier --frozen
  cadl-graph explain_graph --checkpoint=runs/train/vae --frozen
  cadl-graph explain_graph --model=linear_classifier --format=markdown
  cadl-graph explain_graph --lecture_cells > golden/lecture/out48_cells.md
  cadl-graph explain_graph --model=vae --picture=vae.svg
  cadl-graph explain_graph --model=conv_classifier --frozen --picture=frozen.png
  cadl-graph explain_graph --pages=docs/graph-pages
"""

from absl import app, flags

from cadl_graph import cli
from cadl_graph.graphs import registry
from cadl_graph.teach import drawing, explain, out48, pages, picture, renames
from cadl_graph.training import rundir

FLAGS = flags.FLAGS
flags.DEFINE_enum("model", None, registry.NAMES, "Registry model to explain.")
flags.DEFINE_enum("variant", None, list(registry.VARIANTS), "A named departure from the "
                  "course's graph, e.g. bn_in_cond (VAE family).")
flags.DEFINE_bool("frozen", False, "Explain the model's frozen export (X -> Y).")
flags.DEFINE_string("checkpoint", None, "A training run's folder or checkpoint prefix: explain "
                    "the model it holds, built with its hyperparameters (--model may be left "
                    "out); with --frozen, freeze its weights (default: fresh weights, which "
                    "give the same structure).")
flags.DEFINE_enum("format", "text", ["text", "markdown"], "Output format.")
flags.DEFINE_bool("lecture_cells", False, "Print the Out[48] cell-by-cell page.")
flags.DEFINE_string("picture", None, "Draw the graph into this .svg or .png file instead of "
                    "printing its groups.")
flags.DEFINE_string("pages", None, "Write a Markdown page and pictures for every registry "
                    "graph into this folder.")
flags.register_validator("model", lambda v: v is not None or FLAGS.lecture_cells or
                         FLAGS.checkpoint or FLAGS.pages, message="--model is required (or "
                         "--checkpoint, --lecture_cells or --pages)")
flags.register_validator("picture", lambda v: v is None or v.endswith((".svg", ".png")),
                         message="--picture names an .svg or .png file")


def main(argv):
    cli.no_arguments(argv)
    given = [n for n in ("model", "variant", "frozen", "format", "checkpoint", "picture")
             if FLAGS[n].present]
    fixed = {"lecture_cells": "prints one fixed page", "pages": "writes every graph's page"}
    for name, what in fixed.items():
        if FLAGS[name].value and given:
            raise app.UsageError(f"--{name} {what}; drop --{given[0]}")

    def job():
        if FLAGS.lecture_cells:
            print(out48.lecture_cells_page(renames.lecture_names()), end="")
            return
        if FLAGS.pages:
            for path in pages.write(FLAGS.pages):
                print(f"wrote {path}")
            return
        if FLAGS.picture:
            _draw()
            return
        markdown = FLAGS.format == "markdown"
        name, overrides = _model_and_hparams()
        if FLAGS.frozen:
            graph_def, kept, removed = explain.frozen(name, FLAGS.checkpoint, overrides)
            print(f"{name}, frozen export: {len(graph_def.node)} ops")
            print("\n".join(explain.format_groups(kept, markdown)))
            print(f"removed from the training graph: "
                  f"{sum(len(g.ops) for g in removed)} ops")
            print("\n".join(explain.format_groups(removed, markdown)))
            return
        model = registry.build_in_new_graph(name, **overrides)
        group_list = explain.groups(model)
        counts = ", ".join(f"{kind} {n}" for kind, n in explain.summary(group_list).items())
        print(f"{name}: {len(model.graph.get_operations())} ops in "
              f"{len(group_list)} groups ({counts})")
        print("\n".join(explain.format_groups(group_list, markdown)))

    return cli.run(job)


def _draw():
    name, overrides = _model_and_hparams()
    if FLAGS.frozen:
        scene = picture.frozen_scene(name, FLAGS.checkpoint, overrides)
    else:
        scene = picture.scene(registry.build_in_new_graph(name, **overrides), name)
    path = drawing.save(scene, FLAGS.picture)
    print(f"wrote {path}: {scene.title}")


def _model_and_hparams():
    """(registry name, hyperparameter overrides): the run's for --checkpoint, else --model's
    with --variant's."""
    if not FLAGS.checkpoint:
        return FLAGS.model, registry.variant_hparams(FLAGS.model, FLAGS.variant)
    if FLAGS.variant:
        raise app.UsageError("--variant with --checkpoint: the run's own hyperparameters "
                             "decide its graph; drop --variant")
    saved = rundir.open_run(FLAGS.checkpoint, FLAGS.model)
    return saved.model, saved.hparams


def run():
    """The command line: absl parses the flags; --help prints the docstring above."""
    cli.start(main, __doc__)


if __name__ == "__main__":
    run()
