/** Services stay up between runs (infra/services.sh is idempotent); nothing to tear down. */
export default async function globalTeardown(): Promise<void> {}
