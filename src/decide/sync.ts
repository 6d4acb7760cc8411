/**
 * synchronous_standby_names across a switchover. The operator's intent was "commits wait for
 * these standbys"; after the switchover the new primary is no longer a standby and the old one
 * is, so the new primary's name in the list becomes the old primary's. Pure.
 */

/** `value` with the standby name `from` replaced by `to` (the list, FIRST/ANY forms and quoting kept). */
export function translateSyncNames(value: string, from: string, to: string): string {
  const quote = (name: string) => (/^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`);
  return value.replace(
    /"((?:[^"]|"")*)"|([A-Za-z_][A-Za-z0-9_$-]*)/g,
    (match, quoted: string | undefined, bare: string | undefined) => {
      const name = quoted !== undefined ? quoted.replace(/""/g, '"') : bare!;
      if (quoted === undefined && /^(first|any)$/i.test(name)) return match;
      const same = quoted !== undefined ? name === from : name.toLowerCase() === from.toLowerCase();
      return same ? quote(to) : match;
    },
  );
}

/** How many standbys commits wait for, and which names qualify (`*`: any). */
export function syncRequirement(value: string): { count: number; names: string[] | '*' } {
  const m = /^\s*(?:(?:FIRST|ANY)\s+)?(\d+)\s*\((.*)\)\s*$/i.exec(value);
  const list = (m ? m[2]! : value)
    .split(',')
    .map((n) =>
      n
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .replace(/""/g, '"'),
    )
    .filter(Boolean);
  return { count: m ? Number(m[1]) : 1, names: list.includes('*') ? '*' : list };
}
