import { Button, Tooltip, Typography, type ButtonProps } from 'antd';
import type { AvailableAction, OrderAction } from '../api/client';

export function findAction(actions: AvailableAction[] | undefined, action: OrderAction): AvailableAction | undefined {
  return actions?.find((a) => a.action === action);
}

/**
 * A button for one order action, enabled only when the server says the action is possible now;
 * a disabled one shows why (the domain's reason, in the seed page's words) beside it.
 */
export function ActionButton({
  action,
  actions,
  children,
  showReason = true,
  ...props
}: {
  action: OrderAction;
  actions: AvailableAction[] | undefined;
  showReason?: boolean;
} & ButtonProps) {
  const a = findAction(actions, action);
  const enabled = !!a?.enabled;
  const reason = a?.reason ?? (a ? undefined : '暂不可用');
  const button = (
    <Button {...props} disabled={!enabled || props.disabled} data-action={action} data-enabled={enabled}>
      {children ?? a?.label}
    </Button>
  );
  return (
    <span style={{ display: 'inline-flex', alignItems: 'center', gap: 8, flexWrap: 'wrap' }}>
      {enabled ? button : <Tooltip title={reason}>{button}</Tooltip>}
      {!enabled && showReason && reason ? (
        <Typography.Text type="secondary" data-testid={`reason-${action}`}>
          {reason}
        </Typography.Text>
      ) : null}
    </span>
  );
}
