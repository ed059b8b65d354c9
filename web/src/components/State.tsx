import { Alert, Loader } from '@mantine/core';
import type { ReactNode } from 'react';
import { useI18n } from '../i18n/index.tsx';
import { ApiError } from '../lib/api.ts';

/** The three states every server-backed block shows: loading, an error (or "not available"), data. */
export function QueryState({
  isPending,
  error,
  children,
}: {
  isPending: boolean;
  error: unknown;
  children?: ReactNode;
}) {
  const { t } = useI18n();
  if (error) {
    if (error instanceof ApiError && error.notAvailable)
      return (
        <Alert color="gray" title={t('common.notAvailable')} data-testid="not-available">
          {t('common.notAvailableHint', { url: error.url.split('?')[0] ?? '' })}
        </Alert>
      );
    if (error instanceof ApiError && error.status === 403)
      return (
        <Alert color="yellow" data-testid="forbidden">
          {t('common.forbidden')}
        </Alert>
      );
    const code = error instanceof ApiError ? error.code : 'CLIENT';
    return (
      <Alert color="red" data-testid="error">
        {t('common.error', { code })}
      </Alert>
    );
  }
  if (isPending) return <Loader size="sm" role="status" aria-label={t('common.loading')} />;
  return <>{children}</>;
}
