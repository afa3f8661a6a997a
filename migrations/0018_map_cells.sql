-- SPDX-License-Identifier: Apache-2.0
-- The cells of a step mapped over an upstream's output (a matrix made at
-- run time), on that step's cell 0: -1 while its list is not read yet (or
-- could not be used: the task's error says why), else how many cells the
-- list made (0: an empty list, the step was skipped). NULL on the tasks
-- of every other step.
ALTER TABLE tasks ADD COLUMN map_cells integer CHECK (map_cells >= -1);
