import { AppShell, Burger, Button, Group, Title } from '@mantine/core';
import type { ReactNode } from 'react';
import { useState } from 'react';
import { useI18n } from '../i18n/index.tsx';
import { Link } from '../lib/router.tsx';

export interface NavItem {
  href: string;
  label: string;
}

/** Header with the app's name, the language switch and sign-out; a navigation column; the page. */
export function Shell(props: {
  title: string;
  nav: NavItem[];
  path: string;
  onSignOut?: () => void;
  who?: string;
  children: ReactNode;
}) {
  const { t, toggle } = useI18n();
  const [open, setOpen] = useState(false);
  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 240, breakpoint: 'sm', collapsed: { mobile: !open } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group>
            <Burger
              opened={open}
              onClick={() => setOpen(!open)}
              hiddenFrom="sm"
              size="sm"
              aria-label="menu"
            />
            <Title order={1} size="h4">
              {props.title}
            </Title>
          </Group>
          <Group gap="xs">
            {props.who && <span data-testid="who">{props.who}</span>}
            <Button variant="default" size="xs" onClick={toggle}>
              {t('lang.switch')}
            </Button>
            {props.onSignOut && (
              <Button variant="default" size="xs" onClick={props.onSignOut}>
                {t('common.signOut')}
              </Button>
            )}
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label="main">
        {props.nav.map((n) => (
          <Link
            key={n.href}
            href={n.href}
            className="nav-link"
            aria-current={props.path === n.href ? 'page' : undefined}
            onClickCapture={() => setOpen(false)}
          >
            {n.label}
          </Link>
        ))}
      </AppShell.Navbar>
      <AppShell.Main>{props.children}</AppShell.Main>
    </AppShell>
  );
}
