/** Inputs of the pure core, read from disk by the commands. */

/** A text file of the project. */
export interface SourceFile {
  /** Path relative to the project folder, forward slashes. */
  readonly path: string;
  readonly text: string;
}

/** A file the generator wants written. `path` is relative to the project folder. */
export interface GeneratedFile {
  readonly path: string;
  readonly content: string;
}
