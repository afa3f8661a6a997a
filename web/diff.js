// SPDX-License-Identifier: Apache-2.0
// A line diff of two texts (longest common subsequence), for the DAG
// page's versions. Texts of DAG files are small; past LIMIT lines on both
// sides the diff falls back to "everything changed".

const LIMIT = 4000;

// [{op: ' ' | '-' | '+', line}] turning a into b.
export function diffLines(a, b) {
  const x = a.split('\n'), y = b.split('\n');
  if (x.length * y.length > LIMIT * LIMIT)
    return [...x.map((line) => ({op: '-', line})), ...y.map((line) => ({op: '+', line}))];
  const n = x.length, m = y.length;
  const L = Array.from({length: n + 1}, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push({op: ' ', line: x[i]});
      i++;
      j++;
    } else if (L[i + 1][j] >= L[i][j + 1]) {
      out.push({op: '-', line: x[i++]});
    } else {
      out.push({op: '+', line: y[j++]});
    }
  }
  while (i < n) out.push({op: '-', line: x[i++]});
  while (j < m) out.push({op: '+', line: y[j++]});
  return out;
}
