/**
 * The shell lines an MLflow client needs: the tracking URI and, with basic auth, the user and
 * where its password is (read from the file, never printed).
 */
export function trackingExports(
  url: string,
  auth?: { user: string; passwordIn: string; readCommand?: string },
): string {
  const lines = [`  export MLFLOW_TRACKING_URI=${url}`];
  if (auth) {
    lines.push(`  export MLFLOW_TRACKING_USERNAME=${auth.user}`);
    lines.push(
      auth.readCommand
        ? `  export MLFLOW_TRACKING_PASSWORD="$(${auth.readCommand})"`
        : `  # MLFLOW_TRACKING_PASSWORD: the password in ${auth.passwordIn}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** A word for a POSIX shell: as it is when plain, else in single quotes. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}
