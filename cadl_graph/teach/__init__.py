"""Teaching from the graphs: every op explained by what made it.

  renames    how TensorFlow renamed the ops the lecture printed (Out[48])
  explain    a graph's ops grouped by what made them; what freezing kept and removed
  out48      Out[48]'s graph replayed cell by cell, and its page
  lessons    measured lessons (the course's batch-norm flaw)
"""
