/**
 * Keel's flags as an OpenFeature server provider, for applications that read their flags through
 * OpenFeature (`@openfeature/server-sdk`) and want Keel's rollouts to drive them:
 *
 * ```ts
 * await OpenFeature.setProviderAndWait(new KeelFlagProvider(flags, board));
 * const on = await OpenFeature.getClient().getBooleanValue('sync.rest', false, { targetingKey: id });
 * ```
 *
 * Keel's switches are weights, so its flags are booleans: a boolean evaluation reads the flag's
 * weight for the context's `targetingKey` (the bucketing key) and answers `on` or `off`, with the
 * reason OpenFeature defines (STATIC at 0 or 100 %, SPLIT in between, ERROR with FLAG_NOT_FOUND
 * and the caller's default for a flag never set). Other types answer the caller's default with TYPE_MISMATCH. A weight
 * changed by a rollout or an operator is announced as ConfigurationChanged, naming the flags.
 */
import {
  ErrorCode,
  type EvaluationContext,
  type JsonValue,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  type ResolutionDetails,
  StandardResolutionReasons,
} from '@openfeature/server-sdk';
import type { RolloutFlags } from './flags.js';
import { splitSwitchKey } from './state.js';
import type { SwitchBoard } from './switch-board.js';

export class KeelFlagProvider implements Provider {
  readonly metadata = { name: 'keel' } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();

  constructor(
    private readonly flags: RolloutFlags,
    board: SwitchBoard,
  ) {
    board.onChange((keys) => {
      const flagsChanged = keys
        .map(splitSwitchKey)
        .filter((key) => key.kind === 'flag')
        .map((key) => key.target);
      if (flagsChanged.length > 0) this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged });
    });
  }

  async resolveBooleanEvaluation(
    flagKey: string,
    defaultValue: boolean,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<boolean>> {
    const weight = this.flags.weight(flagKey);
    if (weight === undefined)
      return {
        value: defaultValue,
        reason: StandardResolutionReasons.DEFAULT,
        errorCode: ErrorCode.FLAG_NOT_FOUND,
      };
    const value = this.flags.isEnabled(flagKey, { key: context.targetingKey }, defaultValue);
    const split = weight > 0 && weight < 100;
    return {
      value,
      variant: value ? 'on' : 'off',
      reason: split ? StandardResolutionReasons.SPLIT : StandardResolutionReasons.STATIC,
      flagMetadata: { weight },
    };
  }

  async resolveStringEvaluation(_flagKey: string, defaultValue: string): Promise<ResolutionDetails<string>> {
    return typeMismatch(defaultValue);
  }

  async resolveNumberEvaluation(_flagKey: string, defaultValue: number): Promise<ResolutionDetails<number>> {
    return typeMismatch(defaultValue);
  }

  async resolveObjectEvaluation<T extends JsonValue>(
    _flagKey: string,
    defaultValue: T,
  ): Promise<ResolutionDetails<T>> {
    return typeMismatch(defaultValue);
  }
}

function typeMismatch<T>(defaultValue: T): ResolutionDetails<T> {
  return {
    value: defaultValue,
    reason: StandardResolutionReasons.ERROR,
    errorCode: ErrorCode.TYPE_MISMATCH,
    errorMessage: "Keel's flags are booleans (a weight of keys); ask with getBooleanValue",
  };
}
