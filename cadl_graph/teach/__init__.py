"""Teaching from the graphs: every op explained by what made it.

  renames    how TensorFlow renamed the ops the lecture printed (Out[48])
  explain    a graph's ops grouped by their maker; the Out[48] page cell by cell
  lessons    measured lessons (the course's batch-norm flaw)
"""
