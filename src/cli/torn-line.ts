// What a command says when the history it reads ends in a torn line (a run stopped mid-write).
export function noteTornLine(file: string): (line: number) => void {
  return (line) => process.stderr.write(`note: ${file}:${line}: a torn last line (a run stopped mid-write) was skipped\n`);
}
