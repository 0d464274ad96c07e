import { Parser, fromFile } from '@asyncapi/parser';
const parser = new Parser();
let failed = 0;
for (const path of process.argv.slice(2)) {
  const { document, diagnostics } = await fromFile(parser, path).parse();
  const errors = diagnostics.filter(d => d.severity === 0);
  for (const d of diagnostics) console.log(JSON.stringify({path, severity: d.severity, code: d.code, message: d.message, at: d.path.join('.')}));
  if (!document || errors.length) failed += 1;
  else console.log(JSON.stringify({path, ok: true, channels: document.channels().length, messages: document.allMessages().length, operations: document.operations().length}));
}
process.exit(failed ? 1 : 0);
