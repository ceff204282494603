/** A lab shipped with dpulab: its name, the file name its problems are reported under, its YAML. */
export interface BuiltinLab {
  readonly name: string;
  readonly file: string;
  readonly yaml: string;
}
