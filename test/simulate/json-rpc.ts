// A raw JSON-RPC call, for answers web3.js would turn into exceptions before the test could see them.

export async function rpc(url: string, method: string, params: unknown[]): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  return (await response.json()) as Record<string, unknown>;
}
