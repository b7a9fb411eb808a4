// The live sources the settings name: SOLSTREAM_SOURCE for the stream that writes, and
// SOLSTREAM_PROCESSED for the processed stream beside it.
import type { Config } from '../../config.ts';
import type { Logger } from '../../log.ts';
import type { ChainReader } from '../chain.ts';
import { geyserSource } from './geyser.ts';
import { rpcWebSocketSource } from './rpc-websocket.ts';
import type { LiveSource } from './types.ts';

/** The writing stream's source for SOLSTREAM_SOURCE. */
export function configuredSource(
  settings: Config['solana'],
  programIds: readonly string[],
  logger: Logger,
): (chain: ChainReader) => LiveSource {
  if (settings.source === 'geyser') {
    const url = settings.geyserUrl;
    if (url === null) throw new Error('SOLSTREAM_SOURCE=geyser needs SOLSTREAM_GEYSER_URL');
    return (chain) =>
      geyserSource({ url, xToken: settings.geyserXToken, programIds, commitment: settings.commitment, chain, logger });
  }
  return (chain) => rpcWebSocketSource({ chain, programIds, commitment: settings.commitment, logger });
}

/** The processed stream's source for SOLSTREAM_PROCESSED (null: finalized slots only). */
export function configuredProcessedSource(
  settings: Config['solana'],
  programIds: readonly string[],
  logger: Logger,
): (chain: ChainReader) => LiveSource | null {
  const mode =
    settings.processed === 'auto' ? (settings.geyserUrl !== null ? 'geyser' : 'rpc-websocket') : settings.processed;
  if (mode === 'off') return () => null;
  if (mode === 'geyser') {
    const url = settings.geyserUrl;
    if (url === null) throw new Error('SOLSTREAM_PROCESSED=geyser needs SOLSTREAM_GEYSER_URL');
    return (chain) =>
      geyserSource({
        url,
        xToken: settings.geyserXToken,
        programIds,
        commitment: 'processed',
        chain,
        logger,
        slotStatuses: true,
        waitForBlockTime: false,
      });
  }
  return (chain) =>
    rpcWebSocketSource({ chain, programIds, commitment: 'processed', logger, slotStatuses: true, transactions: false });
}
