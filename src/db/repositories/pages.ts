// Pagination shared by the repositories: page numbers from 1, bounded page sizes.
export interface Page {
  readonly limit: number;
  readonly offset: number;
}

export const MAX_PAGE_SIZE = 1000;

export function pageOf(
  options: { page?: number; pageSize?: number; limit?: number; offset?: number },
  defaultSize = 20,
): Page {
  const size = options.limit ?? options.pageSize ?? defaultSize;
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new RangeError(`page size must be between 1 and ${MAX_PAGE_SIZE}, got ${size}`);
  }
  if (options.offset !== undefined) {
    if (!Number.isSafeInteger(options.offset) || options.offset < 0)
      throw new RangeError(`offset must be ≥ 0, got ${options.offset}`);
    return { limit: size, offset: options.offset };
  }
  const page = options.page ?? 1;
  if (!Number.isSafeInteger(page) || page < 1) throw new RangeError(`page must be a whole number ≥ 1, got ${page}`);
  return { limit: size, offset: (page - 1) * size };
}
