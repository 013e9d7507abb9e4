import { leaves, redacted } from '../../config/index.ts';
import type { Context } from '../context.ts';
import { UsageError } from '../args.ts';

/** `fanout config show [--json]` prints the effective config (secrets redacted); `config keys` lists every knob. */
export function configCommand(ctx: Context, action: string | undefined): void {
  if (action === 'show') {
    console.log(redacted(ctx.config));
  } else if (action === 'keys') {
    // A secret may also come from the file its <VAR>_FILE names (config/secrets.ts).
    for (const l of leaves.values())
      console.log(`${l.key.padEnd(34)} ${l.env}${l.sensitive ? ` | ${l.env}_FILE` : ''}`);
  } else {
    throw new UsageError('config needs an action: show | keys');
  }
}
