/**
 * The doctor checks (`src/callout/doctor-checks.ts`) in the command line's words: what to do is
 * said with commands and flags (`run callout auth Target`, `callout apply`, `doctor --online`).
 */
import type { StatusReport } from '../callout/status-report.ts'
import {
  credentialFindings as sharedCredentialFindings,
  errorFinding as sharedErrorFinding,
  type DoctorVoice,
  type Finding,
} from '../callout/doctor-checks.ts'
import type { Definitions } from '../definitions/model.ts'
import { cliMessage } from './cli-advice.ts'

export {
  apiCheckFinding,
  formatFinding,
  hasFailure,
  salesforceUrlFinding,
  type Finding,
  type FindingLevel,
} from '../callout/doctor-checks.ts'

/**
 * The CLI's voice: `callout auth <Name> [--user <id>]`, the config file and `callout apply`,
 * `doctor --online`; error messages with the CLI's advice ({@link cliMessage}).
 *
 * @example
 * CLI_VOICE.reauth('Target') // 'run callout auth Target'
 */
export const CLI_VOICE: DoctorVoice = Object.freeze({
  reauth: (name: string, who?: { type: 'named' | 'per-user'; userId?: string | undefined }) =>
    who?.type === 'per-user'
      ? `send the user a new connect link (broker.authorizeUrl), or run callout auth ${name} --user ${who.userId ?? '<id>'}`
      : `run callout auth ${name}`,
  message: cliMessage,
  advice: (text: string) => text,
  enable: () => 'set enabled: true in the config file and run callout apply, if it should be used',
  addExternalCredential: () => 'add it to the config file and run callout apply',
  checkPath:
    'set checkPath (a path that needs the credential, e.g. /me) to have doctor --online call it',
})

/**
 * A finding for a failure, in the CLI's words (see the shared `errorFinding`).
 *
 * @example
 * errorFinding('Target', new CalloutError('NEEDS_REAUTH', '…'), 'could not obtain a token', true)
 */
export function errorFinding(
  subject: string,
  error: unknown,
  what: string,
  salesforce = false,
): Finding {
  return sharedErrorFinding(subject, error, what, salesforce, CLI_VOICE)
}

/**
 * The offline checks of one Named Credential, in the CLI's words (see the shared
 * `credentialFindings`).
 *
 * @example
 * const findings = credentialFindings(report, broker.definitions)
 */
export function credentialFindings(report: StatusReport, defs: Definitions): Finding[] {
  return sharedCredentialFindings(report, defs, CLI_VOICE)
}
