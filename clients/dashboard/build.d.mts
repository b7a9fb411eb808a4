/** Where `node clients/dashboard/build.mjs` writes the dashboard (clients/dashboard/dist). */
export declare const DASHBOARD_DIST: string;
/** Builds the dashboard into `outdir` (default DASHBOARD_DIST) and returns it. */
export declare function buildDashboard(outdir?: string): Promise<string>;
