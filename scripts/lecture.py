"""Runs the CADL Session 3 lecture end to end and writes its pictures to one folder.

This is the project's main job (`make lecture`). So far it runs the data cells In[2]-In[8]:
it prints the shape of MNIST as the course loads it, and writes first_image.png,
montage.png (the first 1000 images), mean.png and std.png.

Examples:
  python scripts/lecture.py
  python scripts/lecture.py --out_dir=/tmp/lecture --seed=1
  python scripts/lecture.py --data_dir=/path/to/mnist
"""

from absl import app, flags, logging

from cadl_graph import lecture, sources

FLAGS = flags.FLAGS
flags.DEFINE_string("out_dir", "runs/lecture", "Folder for the pictures (created if missing).")
flags.DEFINE_string(
    "data_dir", None,
    f"Folder with the four MNIST IDX files (raw or .gz), tried before the cache "
    f"(default: ${sources.DATA_DIR_ENV}).")
flags.DEFINE_integer("seed", 0, "Seeds the dataset shuffle.", lower_bound=0)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        lecture.run(FLAGS.out_dir, data_dir=FLAGS.data_dir, seed=FLAGS.seed)
    except (sources.FetchError, ValueError, OSError) as e:
        logging.error("%s", e)
        return 1
    return 0


if __name__ == "__main__":
    app.run(main)
