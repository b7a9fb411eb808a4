// Waiting for what arrives on its own schedule (notifications, stream updates), by polling a
// condition rather than sleeping a fixed time.

export function waitUntil(condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (condition() ? resolve() : setTimeout(check, 5));
    check();
  });
}

/** Resolves once `items` holds `count` entries. */
export async function waitFor<T>(items: T[], count: number): Promise<T[]> {
  await waitUntil(() => items.length >= count);
  return items;
}
