import { Badge, Button } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useI18n } from '../i18n/index.tsx';
import { get } from '../lib/api.ts';
import { verifyEntry } from '../lib/verify.ts';

/**
 * Verifies one ledger entry in this browser: the checkpoint's Ed25519 signature and the RFC 9162
 * inclusion proof of the leaf hash at the checkpoint's size. `base` is /v1/ledger for staff; the
 * portal passes its own proof endpoint base when the rights module provides one.
 */
export function VerifyButton({ leafHash, base }: { leafHash: string; base?: string }) {
  const { t } = useI18n();
  const m = useMutation({
    mutationFn: () =>
      verifyEntry(
        leafHash,
        (u) => get(u),
        (u) => get<string>(u),
        base,
      ),
  });
  if (m.data) {
    const ok = m.data.inTree && m.data.signature !== 'invalid';
    return (
      <Badge
        variant="light"
        c="dark.9"
        color={ok ? 'green' : 'red'}
        data-testid="proof-result"
        title={`signature: ${m.data.signature}`}
      >
        {ok ? t('common.verified') : t('common.notVerified')}
        {m.data.signature === 'unsupported' ? ' *' : ''}
      </Badge>
    );
  }
  if (m.error)
    return (
      <Badge variant="light" c="dark.9" color="gray" data-testid="proof-result">
        {t('common.notVerified')}
      </Badge>
    );
  return (
    <Button size="compact-xs" variant="default" loading={m.isPending} onClick={() => m.mutate()}>
      {t('common.verify')}
    </Button>
  );
}
